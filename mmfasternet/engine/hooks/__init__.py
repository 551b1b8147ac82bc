from .deploy_hook import DeployHook

__all__ = ['DeployHook']
