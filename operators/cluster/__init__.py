"""The model cluster: DB-GPT's controller and worker protocol (SMMF).

- :mod:`.types`: the wire shapes (``ModelInstance``, ``PromptRequest``, ``ModelOutput`` ...);
- :mod:`.registry`: the controller's registry of instances;
- :mod:`.worker`: a worker manager over the process's model set;
- :mod:`.remote`: models answered by remote workers, found through the controller;
- :mod:`.client`: HTTP clients of a controller and of a worker;
- :mod:`.state`: this process's registry and manager, as flows reach them.
"""
