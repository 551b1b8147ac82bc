# FasterNet-L on ImageNet-1k, the original recipe (see the S and M configs):
# batch 2048 (lr 0.002), weight decay 0.05, gradient clipping at norm 0.01,
# drop path 0.3, mixup 0.7, RandAugment m7. Released top-1: 83.5.
_base_ = './fasternet_m_imagenet.py'

model = dict(
    backbone=dict(arch='l', drop_path_rate=0.3),
    head=dict(in_channels=1536),
    train_cfg=dict(augments=[
        dict(type='Mixup', alpha=0.7),
        dict(type='CutMix', alpha=1.0),
    ]))

optim_wrapper = dict(clip_grad=dict(max_norm=0.01))
