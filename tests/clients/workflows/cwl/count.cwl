cwlVersion: v1.0
class: CommandLineTool
requirements:
  DockerRequirement:
    dockerPull: "@IMAGE@"
baseCommand: [wc, -w]
inputs:
  text:
    type: File
    inputBinding:
      position: 1
stdout: count.txt
outputs:
  count:
    type: stdout
