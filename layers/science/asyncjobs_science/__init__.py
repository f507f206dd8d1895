"""The solar computations behind the design actions (fire pathways, AutoDesigner, irradiance,
performance): pure functions and their pydantic input models, with no AWS. Shipped as its own
layer (pvlib, shapely, numpy, pandas) so only the functions that run these actions pay for them."""
