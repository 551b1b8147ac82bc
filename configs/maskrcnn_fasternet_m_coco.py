# Mask R-CNN FPN 1x, FasterNet-M: the original recipe (lr 1e-4, drop path 0.2).
_base_ = './maskrcnn_fasternet_s_coco.py'

model = dict(
    backbone=dict(
        arch='m',
        drop_path_rate=0.2,
        init_cfg=dict(
            checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_m-epoch.291-val_acc1.82.9620.pth'
        )),
    neck=dict(in_channels=[144, 288, 576, 1152]))
optim_wrapper = dict(optimizer=dict(lr=0.0001))
