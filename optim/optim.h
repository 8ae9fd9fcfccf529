// Everything in loom::optim: optimizers, gradient clipping, learning-rate schedules,
// gradient scaling.
#pragma once

#include "optim/adam.h"
#include "optim/asgd.h"
#include "optim/clip_grad.h"
#include "optim/grad_scaler.h"
#include "optim/lr_scheduler.h"
#include "optim/optimizer.h"
#include "optim/rmsprop.h"
#include "optim/sgd.h"
