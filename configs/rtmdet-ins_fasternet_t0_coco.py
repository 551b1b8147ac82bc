# RTMDet-Ins-tiny (instance segmentation) on COCO 2017 with FasterNet-T0 in
# place of CSPNeXt-tiny.
# From mmdet's rtmdet-ins_tiny_8xb32-300e_coco.py unchanged: the neck and
# head widths (96), the dynamic-kernel mask head, the 300-epoch schedule (AdamW
# lr 0.004, weight decay 0.05, cosine from epoch 150), the mosaic + mixup
# pipeline switched to the large-scale-jitter one for the last 20 epochs, EMA,
# batch 256 = 8 GPUs x 32.
# Chosen here:
# - the backbone gives strides 8, 16, 32 (out_indices 1-3), so the neck takes
#   FasterNet-T0's stage widths 80, 160, 320;
# - FasterNet's ImageNet weights were trained on RGB images normalised with
#   the ImageNet mean and std, so the data preprocessor converts BGR to RGB
#   and uses them (CSPNeXt's weights were trained on BGR);
# - the backbone keeps FasterNet's BatchNorm (32 images per GPU is enough
#   batch for it) and its ImageNet drop path rate, 0 for T0.
# Not trained by anyone: no COCO result exists for this model.
_base_ = 'mmdet::rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py'
custom_imports = dict(imports=['mmfasternet'], allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        arch='t0',
        out_indices=(1, 2, 3),
        drop_path_rate=0.0,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_t0-epoch.281-val_acc1.71.9180.pth'
        )),
    neck=dict(in_channels=[80, 160, 320]))
