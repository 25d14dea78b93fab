cwlVersion: v1.0
class: Workflow
requirements:
  InlineJavascriptRequirement: {}
inputs:
  text: File
outputs:
  upper:
    type: File
    outputSource: upper/upper
  count:
    type: File
    outputSource: count/count
steps:
  upper:
    run: upper.cwl
    in:
      text: text
    out: [upper]
  count:
    run: count.cwl
    in:
      text: upper/upper
    out: [count]
