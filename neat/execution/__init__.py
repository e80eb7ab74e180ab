"""Acting on a plan: the executor and the protocol of the computes it drives.

Below both the simulator and the service: the service's compute is Nova
(:class:`neat.service.nova.NovaCompute`), the simulator's a simulated data center
(:class:`neat.simulation.compute.SimulatedCompute`); one contract suite runs the executor against
both.
"""
