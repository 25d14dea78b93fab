. as $p
| [($p.spec.initContainers // [])[] | select(.restartPolicy == "Always") | .name] as $sidecars
| ($p.status.initContainerStatuses // []) as $is
| ($p.status.containerStatuses // []) as $cs
| [$is[] | select(.name as $n | $sidecars | any(.[]; . == $n) | not)] as $regular
| ($regular | any(.state.terminated != null and .state.terminated.exitCode != 0)) as $initfailed
| (($cs | length) > 0 and ($cs | all(.state.terminated != null))) as $maindone
| ([$is[], $cs[]] | any(.state.running != null)) as $running
| ($p.metadata.deletionTimestamp != null) as $deleting
| if $p.status.phase == "Succeeded" or $p.status.phase == "Failed" then
    (if $deleting and (($p.metadata.finalizers // []) | length) == 0 then "delete" else "none" end)
  elif $deleting or $initfailed or $maindone then
    (if $running then "stop" else "finish" end)
  elif $p.status.podIP == null then "create"
  elif $regular | any(.state.running != null) then "init-finish"
  elif $is | any(.state.waiting != null) then "init-start"
  elif $cs | any(.state.waiting != null) then "start"
  elif ($p.spec.restartPolicy // "Always") != "Always" and ($cs | any(.state.running != null)) then "main-finish"
  else "none" end
