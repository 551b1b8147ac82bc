"""The FasterNet variants: width and depths of each, and its activation.

Source: the original code's ``cfg/fasternet_{t0,t1,t2,s,m,l}.yaml``
(``embed_dim``, ``depths``, ``act_layer``). Read by the backbone
(``FasterNet.arch_settings``) and by the checkpoint code that names the
variant a state dict holds; it imports nothing, so both can.
"""
from typing import Dict

__all__ = ['ARCH_SETTINGS']

ARCH_SETTINGS: Dict[str, dict] = {
    't0': dict(embed_dims=40, depths=(1, 2, 8, 2),
               act_cfg=dict(type='GELU')),
    't1': dict(embed_dims=64, depths=(1, 2, 8, 2),
               act_cfg=dict(type='GELU')),
    't2': dict(embed_dims=96, depths=(1, 2, 8, 2),
               act_cfg=dict(type='ReLU', inplace=True)),
    's': dict(embed_dims=128, depths=(1, 2, 13, 2),
              act_cfg=dict(type='ReLU', inplace=True)),
    'm': dict(embed_dims=144, depths=(3, 4, 18, 3),
              act_cfg=dict(type='ReLU', inplace=True)),
    'l': dict(embed_dims=192, depths=(3, 4, 18, 3),
              act_cfg=dict(type='ReLU', inplace=True)),
}
