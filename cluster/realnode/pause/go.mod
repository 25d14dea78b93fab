module poiesis.invalid/cluster/pause

go 1.26
