# Mask R-CNN FPN 1x on COCO 2017 with FasterNet-S: the original recipe
# (AdamW lr 2e-4, weight decay 1e-4, 12 epochs, lr x0.1 at epochs 8 and 11,
# 500 linear warm-up iterations from 0.001, batch 16 = 8 GPUs x 2, fp32).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmfasternet'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        arch='s',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.15,
        # As the original ran: its mmdet 2.x backbone silently swallowed the
        # ResNet base's frozen_stages=1 / norm_eval=True, so BN trained and
        # nothing was frozen. Set frozen_stages=1, norm_eval=True to follow
        # mmdet's usual ResNet practice instead (not the published recipe).
        frozen_stages=-1,
        norm_eval=False,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_s-epoch.299-val_acc1.81.2840.pth'
        )),
    neck=dict(in_channels=[128, 256, 512, 1024]))

optim_wrapper = dict(
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=0.0002,
        betas=(0.9, 0.999),
        weight_decay=0.0001))

# The original trained on 8 GPUs x 2 images; with --auto-scale-lr the lr
# follows the actual total batch.
auto_scale_lr = dict(enable=False, base_batch_size=16)
