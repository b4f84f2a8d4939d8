"""The one module that turns Python values into JS values (and bytes back).

Since Pyodide 0.29 `to_js(dict)` gives a Map unless told otherwise; WebGPU wants plain
Objects, so every conversion goes through `js_object` with an explicit dict converter.
"""

import js
from pyodide.ffi import JsProxy, to_js

try:  # Pyodide >= 0.28 maps JS null to `jsnull`, older ones to None
    from pyodide.ffi import jsnull
except ImportError:  # pragma: no cover
    jsnull = None


def is_nullish(value) -> bool:
    """True for Python None, JS null and JS undefined."""
    return value is None or value is jsnull or value == js.undefined


def js_object(value):
    """dicts -> Object, lists -> Array, recursively; JS proxies inside pass through as they are."""
    return to_js(value, dict_converter=js.Object.fromEntries)


def js_bytes(data):
    """A JS typed array or ArrayBuffer passes through; Python bytes-likes become a Uint8Array (copied)."""
    if isinstance(data, JsProxy):
        return data
    return to_js(memoryview(data).cast("B"))


def js_typed(data):
    """A Python array as the JS typed array of its item type (copied): array("I") -> Uint32Array."""
    return to_js(memoryview(data))


def py_bytes(array_buffer) -> bytes:
    """Copy a JS ArrayBuffer (small: uniforms, logits, timestamps) into Python bytes."""
    return js.Uint8Array.new(array_buffer).to_bytes()
