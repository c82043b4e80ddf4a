// The storages a kernel family templated on T is built for: float and bf16_bits (runtime/bf16.h). A
// family's header declares its kernels once as RENORM_DECLARE_<FAMILY>_T(P, T) — with P = `template
// <class T>` in cpu:: and cuda:: — and each backend, after defining the templates, instantiates them
// with RENORM_INSTANTIATE_STORAGES(RENORM_DECLARE_<FAMILY>_T): one line, no forwarding wrappers.
#pragma once
#include "runtime/bf16.h"

#define RENORM_INSTANTIATE_STORAGES(DECLARE) DECLARE(template, float) DECLARE(template, ::renorm::bf16_bits)
