# Mask R-CNN FPN 1x, FasterNet-T1. No original T1 detector: the S recipe
# (lr 2e-4) with drop path 0.05 (ImageNet's 0.02, raised as S's was).
_base_ = './maskrcnn_fasternet_s_coco.py'

model = dict(
    backbone=dict(
        arch='t1',
        drop_path_rate=0.05,
        init_cfg=dict(
            checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_t1-epoch.291-val_acc1.76.2180.pth'
        )),
    neck=dict(in_channels=[64, 128, 256, 512]))
