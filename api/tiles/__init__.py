"""Map tiles of raster items and of search mosaics in lunar tile grids, with TileJSON."""
