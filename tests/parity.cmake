# Parity with the PyTorch reference, checked through `reviewkd parity` exactly as a user runs it.
# Files under tests/data/golden are always present; the others come from $REVIEWKD_GOLDEN_DIR (skipped if absent).
foreach(arch resnet8 resnet20 resnet8x4 wrn-16-1 vgg8 mobilenetv2 shufflev1 shufflev2)
  add_test(NAME parity_${arch}
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/parity.sh $<TARGET_FILE:reviewkd> architectures/${arch}.pt --arch ${arch})
  set_tests_properties(parity_${arch} PROPERTIES LABELS "core;parity" SKIP_RETURN_CODE 77 TIMEOUT 300)
endforeach()
add_test(NAME parity_resnet56_to_resnet20
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/parity.sh $<TARGET_FILE:reviewkd> pairs/resnet56_to_resnet20.pt
          --teacher resnet56 --student resnet20 --review-weight 0.6)
add_test(NAME parity_wrn-40-2_to_shufflev1
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/parity.sh $<TARGET_FILE:reviewkd> pairs/wrn-40-2_to_shufflev1.pt
          --teacher wrn-40-2 --student shufflev1 --review-weight 5)
# The engine's CPU training layout (channels-last, with the fused ABF attention kernel) against the same file.
add_test(NAME parity_resnet56_to_resnet20_channels_last
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/parity.sh $<TARGET_FILE:reviewkd> pairs/resnet56_to_resnet20.pt
          --teacher resnet56 --student resnet20 --review-weight 0.6 --channels-last)
set_tests_properties(parity_resnet56_to_resnet20 parity_wrn-40-2_to_shufflev1 parity_resnet56_to_resnet20_channels_last PROPERTIES
  LABELS "core;parity" SKIP_RETURN_CODE 77 TIMEOUT 300)
# The same short ReviewKD training on the CPU and another device (issue 5): a CPU self-check always, CUDA where
# present (skipped without it).
add_test(NAME devices_cpu_vs_cpu COMMAND $<TARGET_FILE:reviewkd> devices --compare cpu --steps 3 --batch 16)
add_test(NAME devices_cpu_vs_cuda COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/devices.sh $<TARGET_FILE:reviewkd>)
set_tests_properties(devices_cpu_vs_cpu devices_cpu_vs_cuda PROPERTIES LABELS "core;parity" SKIP_RETURN_CODE 77 TIMEOUT 600)
