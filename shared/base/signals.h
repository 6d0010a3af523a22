/* SPDX-License-Identifier: MIT */
#pragma once

#include <signal.h>

/* Block the signals of mask (the previous mask in *old, unless NULL) and
 * return a non-blocking signalfd that receives them instead. */
int signalfd_blocking(const sigset_t *mask, sigset_t *old);
