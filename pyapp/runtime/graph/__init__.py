"""The compute graph: values (tensors, SymInts, uniforms), dispatch nodes, and the Graph that plans,
prepares and runs them on a Device."""
