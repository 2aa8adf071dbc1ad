"""Building blocks shared by several families (attention, residual blocks, SE, CBAM ...)."""
