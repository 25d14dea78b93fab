module apiserver_load

go 1.22
