// Umbrella header for the batch_cleanup library.
#pragma once

#include "batch_cleanup/config.h"
#include "batch_cleanup/errors.h"
#include "batch_cleanup/report.h"
#include "batch_cleanup/service.h"
#include "batch_cleanup/version.h"
#include "batch_cleanup/worker.h"
