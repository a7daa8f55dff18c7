"""discovery/: PRM and AS metadata discovery per layout and revision (C23, PRM-1/2/3, ASM-1/2/3, LEG-1)."""
