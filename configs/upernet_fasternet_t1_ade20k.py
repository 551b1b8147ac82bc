# UperNet with FasterNet-T1 on ADE20K (see the S config for the recipe).
_base_ = './upernet_fasternet_s_ade20k.py'

model = dict(
    backbone=dict(
        arch='t1',
        drop_path_rate=0.05,
        init_cfg=dict(checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_t1-epoch.291-val_acc1.76.2180.pth')),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))
