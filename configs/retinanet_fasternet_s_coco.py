# RetinaNet FPN 1x on COCO 2017 with FasterNet-S.
# From mmdet's retinanet_r50_fpn_1x_coco.py unchanged: the FPN (256 wide,
# levels from stride 8 on, extra levels from its input), the RetinaNet head, the 12-epoch schedule (lr x0.1 at
# epochs 8 and 11, 500 linear warm-up iterations), the 1333x800 keep-ratio
# pipeline with flip, batch 16 = 8 GPUs x 2.
# From FasterNet's Mask R-CNN recipe (maskrcnn_fasternet_s_coco.py), the
# only detection recipe published for FasterNet: AdamW lr 2e-4, weight decay
# 1e-4 (in place of mmdet's SGD, set for ResNet-50 with frozen BN), drop path
# 0.15, the backbone's BatchNorm trained and no stage frozen (as the original
# Mask R-CNN ran).
# Chosen here: the backbone returns only the stride 8-32 stages the FPN
# reads (out_indices=(1, 2, 3); the FPN's start_level 0 where mmdet's is 1 to
# skip ResNet's stride-4 map), with FasterNet-S's widths. The same FPN, and no
# output norm of an unread stage, whose parameters would get no gradient and
# stop a distributed (DDP) run.
# Not trained by anyone: no COCO result exists for this model.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmfasternet'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        arch='s',
        out_indices=(1, 2, 3),
        drop_path_rate=0.15,
        frozen_stages=-1,
        norm_eval=False,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_s-epoch.299-val_acc1.81.2840.pth'
        )),
    neck=dict(in_channels=[256, 512, 1024], start_level=0))

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=0.0002,
        betas=(0.9, 0.999),
        weight_decay=0.0001))
