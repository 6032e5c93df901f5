"""Where permits come from: landing files, portal pulls, normalization, appraisal records, address keys."""
