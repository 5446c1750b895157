"""Training a judge from labels (`rubric train-judge`): a probe on a frozen local model's
hidden state, or the model itself fine-tuned (full or LoRA) on the engine's own questions."""
