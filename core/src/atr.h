#ifndef SCB_ATR_H
#define SCB_ATR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when the ATR's card capabilities announce extended Lc/Le. */
bool scb__atr_extended_length(const uint8_t *atr, size_t len);

#endif
