# Mask R-CNN FPN ms-3x, FasterNet-L (see the S 3x config).
_base_ = './maskrcnn_fasternet_s_ms-3x_coco.py'

model = dict(
    backbone=dict(
        arch='l',
        drop_path_rate=0.3,
        init_cfg=dict(
            checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_l-epoch.299-val_acc1.83.5060.pth'
        )),
    neck=dict(in_channels=[192, 384, 768, 1536]))
optim_wrapper = dict(optimizer=dict(lr=0.0001))
