# RTMDet-s on COCO 2017 with FasterNet-T2: the S config (mmdet's RTMDet-s
# recipe, neck and head width 128, RGB ImageNet normalisation) with T2's
# stage widths 192, 384, 768 in the neck and T2's ImageNet drop path rate,
# 0.05. T2 is close to CSPNeXt-s in ImageNet cost, so it takes RTMDet-s's
# neck and head rather than the tiny ones.
# Not trained by anyone: no COCO result exists for this model.
_base_ = './rtmdet_fasternet_s_coco.py'

model = dict(
    backbone=dict(
        arch='t2',
        drop_path_rate=0.05,
        init_cfg=dict(
            checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_t2-epoch.289-val_acc1.78.8860.pth'
        )),
    neck=dict(in_channels=[192, 384, 768]))
