# RetinaNet FPN 1x on COCO 2017 with FasterNet-T0: the S config (mmdet's
# RetinaNet 1x with FasterNet's Mask R-CNN optimizer) with T0's stage widths
# and T0's ImageNet drop path rate, 0.0, as maskrcnn_fasternet_t0_coco.py.
# Not trained by anyone: no COCO result exists for this model.
_base_ = './retinanet_fasternet_s_coco.py'

model = dict(
    backbone=dict(
        arch='t0',
        drop_path_rate=0.0,
        init_cfg=dict(
            checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_t0-epoch.281-val_acc1.71.9180.pth'
        )),
    neck=dict(in_channels=[80, 160, 320]))
