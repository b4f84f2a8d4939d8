"""What every device host shares (the browser's Device, pyapp.native's NativeDevice): the
features and limits we ask for, binding kinds, and the errors. No `js` here."""

WANTED_FEATURES = ("timestamp-query", "subgroups", "shader-f16")
# Limits we raise to the adapter's maximum: big weights and wide workgroups need them.
RAISED_LIMITS = (
    "maxBufferSize",
    "maxStorageBufferBindingSize",
    "maxStorageBuffersPerShaderStage",
    "maxComputeWorkgroupStorageSize",
    "maxComputeInvocationsPerWorkgroup",
    "maxComputeWorkgroupSizeX",
)
REPORTED_LIMITS = RAISED_LIMITS + ("maxComputeWorkgroupsPerDimension", "maxUniformBufferBindingSize")
BINDING_TYPES = {"read": "read-only-storage", "write": "storage", "uniform": "uniform"}


class GPUError(RuntimeError):
    """A WebGPU failure (validation, out-of-memory, pipeline, lost device), naming what failed."""


class WebGPUUnavailable(GPUError):
    """This browser has no usable WebGPU."""
