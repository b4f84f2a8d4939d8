// Encodes a recorded step `steps` times into one command encoder, then the readback copies and
// the timestamp resolve, and submits: the hot loop of a step, where a call from Python into JS
// would cost an FFI round trip per dispatch. The recording (browser.py) holds, per pass, its
// descriptor and where its dispatches end, and per dispatch its pipeline, bind group and grid.
(device, label, rec, steps, plan) => {
  const enc = device.createCommandEncoder({ label });
  for (let s = 0; s < steps; s++) {
    let i = 0;
    for (let p = 0; p < rec.descs.length; p++) {
      const pass = enc.beginComputePass(rec.descs[p]);
      let current = null;
      for (const end = rec.ends[p]; i < end; i++) {
        const pipeline = rec.pipelines[i];
        if (pipeline !== current) {  // consecutive nodes often share one
          pass.setPipeline(pipeline);
          current = pipeline;
        }
        pass.setBindGroup(0, rec.groups[i]);
        pass.dispatchWorkgroups(rec.grids[3 * i], rec.grids[3 * i + 1], rec.grids[3 * i + 2]);
      }
      pass.end();
    }
  }
  for (const [src, offset, dst, size] of plan.copies) enc.copyBufferToBuffer(src, offset, dst, 0, (size + 3) & ~3);
  if (plan.resolve) {
    const [querySet, count, resolveBuffer, readBuffer] = plan.resolve;
    enc.resolveQuerySet(querySet, 0, count, resolveBuffer, 0);
    enc.copyBufferToBuffer(resolveBuffer, 0, readBuffer, 0, count * 8);
  }
  device.queue.submit([enc.finish()]);
}
