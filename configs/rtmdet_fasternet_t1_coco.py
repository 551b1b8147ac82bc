# RTMDet-tiny on COCO 2017 with FasterNet-T1: the T0 config (mmdet's
# RTMDet-tiny recipe, RGB ImageNet normalisation) with T1's stage widths
# 128, 256, 512 in the neck and T1's ImageNet drop path rate, 0.02.
# Not trained by anyone: no COCO result exists for this model.
_base_ = './rtmdet_fasternet_t0_coco.py'

model = dict(
    backbone=dict(
        arch='t1',
        drop_path_rate=0.02,
        init_cfg=dict(
            checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_t1-epoch.291-val_acc1.76.2180.pth'
        )),
    neck=dict(in_channels=[128, 256, 512]))
