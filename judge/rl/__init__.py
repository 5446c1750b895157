"""Rubric rewards for RL training: TRL reward functions, verl's compute_score, and the
`rubric serve` reward server (OpenRLHF --remote_rm_url and our own JSON format)."""

from judge.rl.scorer import Reward, RewardRequest, RewardScorer, RubricError, build_scorer
from judge.rl.shaping import Shaping
from judge.rl.trl_reward import rubric_reward

__all__ = ["Reward", "RewardRequest", "RewardScorer", "RubricError", "Shaping", "build_scorer", "rubric_reward"]
