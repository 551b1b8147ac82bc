# UperNet with FasterNet-T2 on ADE20K (see the S config for the recipe).
_base_ = './upernet_fasternet_s_ade20k.py'

model = dict(
    backbone=dict(
        arch='t2',
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_t2-epoch.289-val_acc1.78.8860.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
