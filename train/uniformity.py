"""A regulariser against collapsed user vectors (`ssr train --uniformity-weight L`).

Issue 23 found ssr's user vectors spanning a few directions (effective rank 3.6 against fmlp's 12.8
on ml-100k), so its top-10s fall back on popular items. The uniformity loss of Wang and Isola
("Understanding contrastive representation learning through alignment and uniformity on the
hypersphere", ICML 2020), used for recommenders by DirectAU (Wang et al., KDD 2022), spreads a
batch's L2-normalised user vectors u_i over the unit sphere:

    L_unif = log( mean_{i < j} exp(-t ||u_i - u_j||^2) ),   t = 2

and the training loss becomes loss + L * L_unif. ||u_i - u_j||^2 = 2 - 2 u_i . u_j for unit vectors:
written so, its gradient is finite where two users coincide (pdist's is not). A user vector of length
zero has no direction on the sphere and takes no part: a spiking model whose newest position is silent
gives exactly its readout's bias, zero at the start (a fifth of warm-started ssr's Beauty users), and
scaling it to unit length would multiply its gradient by 1 / eps = 1e12. A training-only change: the
deployed model and its export are untouched.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

UNIFORMITY_T = 2.0  # Wang and Isola's t
DIRECTIONLESS = 1e-6  # users shorter than this fraction of the batch's longest have no direction to spread


def uniformity_loss(users: torch.Tensor, t: float = UNIFORMITY_T) -> torch.Tensor:
    """(B, D) float user vectors -> the scalar L_unif above, between -4t and 0 (0: every user the same
    direction; near -2t: users spread evenly over a sphere of many dimensions), over the users longer
    than DIRECTIONLESS x the batch's longest; 0 where fewer than two are (a batch of one, as an
    epoch's last may be), which have no pair to spread."""
    if len(users):
        lengths = users.norm(dim=1)
        users = users[lengths > DIRECTIONLESS * lengths.max()]  # (B', D)
    if len(users) < 2:
        return users.new_zeros(())
    unit = F.normalize(users, dim=1)
    squared = (2.0 - 2.0 * unit @ unit.T).clamp_min(0.0)  # (B, B) squared distances on the sphere
    upper = torch.triu_indices(len(users), len(users), offset=1, device=users.device)
    pairs = squared[upper[0], upper[1]]
    return torch.logsumexp(-t * pairs, dim=0) - math.log(pairs.numel())
