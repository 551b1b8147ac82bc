# Mask R-CNN FPN 1x, FasterNet-T0. The original released no T0 detector: this
# follows the S recipe (lr 2e-4); drop path 0.0 as T0's ImageNet training.
_base_ = './maskrcnn_fasternet_s_coco.py'

model = dict(
    backbone=dict(
        arch='t0',
        drop_path_rate=0.0,
        init_cfg=dict(
            checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_t0-epoch.281-val_acc1.71.9180.pth'
        )),
    neck=dict(in_channels=[40, 80, 160, 320]))
