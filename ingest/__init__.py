"""Raster ingest: read planetary products (GeoTIFF, PDS4, PDS3, ISIS3, VICAR), write a
Cloud-Optimized GeoTIFF, and describe it as a STAC Item.

    product = find_reader(path).read(path)      # ingest.readers
    cog = write_cog(product, out_path)          # ingest.cog
    item = build_item(product, cog, collection_id=..., data_key=...)   # ingest.stac
"""
