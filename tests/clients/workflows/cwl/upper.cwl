cwlVersion: v1.0
class: CommandLineTool
requirements:
  DockerRequirement:
    dockerPull: "@IMAGE@"
baseCommand: [tr, a-z, A-Z]
inputs:
  text:
    type: File
stdin: $(inputs.text.path)
stdout: upper.txt
outputs:
  upper:
    type: stdout
