# Semantic FPN with FasterNet-L on ADE20K (see the S config for the recipe).
_base_ = './fpn_fasternet_s_ade20k.py'

model = dict(
    backbone=dict(
        arch='l',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_l-epoch.299-val_acc1.83.5060.pth')),
    neck=dict(in_channels=[192, 384, 768, 1536]))
