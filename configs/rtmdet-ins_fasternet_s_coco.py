# RTMDet-Ins-s (instance segmentation) on COCO 2017 with FasterNet-S in
# place of CSPNeXt-s.
# From mmdet's rtmdet-ins_s_8xb32-300e_coco.py unchanged: the neck and
# head widths (128), the dynamic-kernel mask head, the 300-epoch schedule (AdamW
# lr 0.004, weight decay 0.05, cosine from epoch 150), the mosaic + mixup
# pipeline switched to the large-scale-jitter one for the last 20 epochs, EMA,
# batch 256 = 8 GPUs x 32.
# Chosen here:
# - the backbone gives strides 8, 16, 32 (out_indices 1-3), so the neck takes
#   FasterNet-S's stage widths 256, 512, 1024;
# - FasterNet's ImageNet weights were trained on RGB images normalised with
#   the ImageNet mean and std, so the data preprocessor converts BGR to RGB
#   and uses them (CSPNeXt's weights were trained on BGR);
# - the backbone keeps FasterNet's BatchNorm (32 images per GPU is enough
#   batch for it) and its ImageNet drop path rate, 0.1 for S.
# Not trained by anyone: no COCO result exists for this model.
_base_ = 'mmdet::rtmdet/rtmdet-ins_s_8xb32-300e_coco.py'
custom_imports = dict(imports=['mmfasternet'], allow_failed_imports=False)

model = dict(
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        _delete_=True,
        type='FasterNet',
        arch='s',
        out_indices=(1, 2, 3),
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://github.com/JierunChen/FasterNet/releases/download/v1.0/fasternet_s-epoch.299-val_acc1.81.2840.pth'
        )),
    neck=dict(in_channels=[256, 512, 1024]))
