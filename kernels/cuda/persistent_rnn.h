// The CUDA side of the persistent recurrent algorithm (kernels/rnn_persistent.h),
// internal to kernels/cuda/rnn.cu: the device's fit plan and the two
// cooperative launches of kernels/rnn_persistent_algorithm.h, and the
// stacked-layer wavefront of kernels/rnn_wavefront_algorithm.h.
#pragma once

#include "kernels/rnn.h"
#include "kernels/rnn_persistent.h"
#include "kernels/rnn_persistent_algorithm.h"
#include "kernels/rnn_wavefront.h"
#include "kernels/rnn_wavefront_algorithm.h"

namespace loom::kernels::cuda_persistent {

// The current device's properties for the fit rule (read once per device).
PersistentDeviceProps device_props();

// persistent_plan for storage type S on the current device, with the
// occupancy of the kernel the current persistent_barrier() setting launches
// (cudaOccupancyMaxActiveBlocksPerMultiprocessor).
template <typename S>
PersistentPlan plan(const RnnLayerShape& shape, RnnPass pass);

// Queue the forward / backward persistent loop on cuda::stream(): one
// cooperative launch of p.blocks blocks of p.threads threads, with the
// barrier of persistent_barrier(). No host synchronisation, no allocation
// (the flag barrier's counter is a slot of a static device array per stream).
template <typename S>
void launch_forward(const rnn_detail::PersistentForward<S>& p);
template <typename S>
void launch_backward(const rnn_detail::PersistentBackward<S>& p);

// wavefront_plan (kernels/rnn_wavefront.h) for storage type S on the current
// device, with the occupancy of the wavefront kernel of the current barrier.
template <typename S>
PersistentPlan wavefront_plan(const RnnStackShape& shape);

// Queue the stack's wavefront (kernels/rnn_wavefront_algorithm.h) on
// cuda::stream(): one cooperative launch of p.blocks blocks of p.threads
// threads, T + L - 1 phases with the barrier of persistent_barrier().
template <typename S>
void launch_wavefront(const rnn_detail::WavefrontForward<S>& p);

}  // namespace loom::kernels::cuda_persistent
