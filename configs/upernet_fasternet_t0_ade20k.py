# UperNet with FasterNet-T0 on ADE20K (see the S config for the recipe).
_base_ = './upernet_fasternet_s_ade20k.py'

model = dict(
    backbone=dict(
        arch='t0',
        drop_path_rate=0.0,
        init_cfg=dict(checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_t0-epoch.281-val_acc1.71.9180.pth')),
    decode_head=dict(in_channels=[40, 80, 160, 320]),
    auxiliary_head=dict(in_channels=160))
