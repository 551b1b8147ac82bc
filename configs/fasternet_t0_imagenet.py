# FasterNet-T0 on ImageNet-1k, the original recipe (see the S config): batch
# 4096 (lr 0.004), weight decay 0.005, no drop path, mixup 0.05, GELU, no
# RandAugment. Released top-1: 71.9.
_base_ = './fasternet_s_imagenet.py'

model = dict(
    backbone=dict(arch='t0', drop_path_rate=0.0),
    head=dict(in_channels=320, act_cfg=dict(_delete_=True, type='GELU')),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.05),
        dict(type='CutMix', alpha=1.0),
    ]))
optim_wrapper = dict(optimizer=dict(weight_decay=0.005))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=192, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_pipeline_224 = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
custom_hooks = [
    dict(type='SwitchRecipeHook',
         schedule=[dict(action_epoch=281, train_pipeline=train_pipeline_224)])
]
