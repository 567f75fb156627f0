"""The tools, which may import every origin: ``catalog`` (every schedule by name and origin),
``oracle`` (the exact curve of any schedule), ``parity`` (the three-way comparison and the
stored reference curves), ``draws`` and ``sweep`` (random realistic-scale configurations),
``cli`` (the ``jaxsched`` command) and ``demo`` (the main job)."""
