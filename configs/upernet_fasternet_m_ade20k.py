# UperNet with FasterNet-M on ADE20K (see the S config for the recipe).
_base_ = './upernet_fasternet_s_ade20k.py'

model = dict(
    backbone=dict(
        arch='m',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_m-epoch.291-val_acc1.82.9620.pth')),
    decode_head=dict(in_channels=[144, 288, 576, 1152]),
    auxiliary_head=dict(in_channels=576))
