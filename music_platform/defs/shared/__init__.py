"""What every area shares: asset keys, partitions, freshness policies and metadata helpers."""
