# Mask R-CNN FPN 1x, FasterNet-T2. No original T2 detector: the S recipe
# (lr 2e-4) with drop path 0.1 (ImageNet's 0.05, raised as S's was).
_base_ = './maskrcnn_fasternet_s_coco.py'

model = dict(
    backbone=dict(
        arch='t2',
        drop_path_rate=0.1,
        init_cfg=dict(
            checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_t2-epoch.289-val_acc1.78.8860.pth'
        )),
    neck=dict(in_channels=[96, 192, 384, 768]))
