# FasterNet-M on ImageNet-1k, the original recipe (see the S config): batch
# 2048 (16 GPUs x 128, lr 0.002), weight decay 0.05, gradient clipping at
# norm 1.0, drop path 0.2, mixup 0.5, RandAugment m7. Released top-1: 83.0.
_base_ = './fasternet_s_imagenet.py'

model = dict(
    backbone=dict(arch='m', drop_path_rate=0.2),
    head=dict(in_channels=1152),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.5),
        dict(type='CutMix', alpha=1.0),
    ]))

optim_wrapper = dict(
    optimizer=dict(lr=0.002, weight_decay=0.05),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 0.002, by_epoch=True, begin=0,
         end=20),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=20,
         end=300),
]
auto_scale_lr = dict(base_batch_size=2048)
