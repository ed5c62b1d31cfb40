"""The DPO's view of erasures at recipients (PIPL art. 47). (To be built.)"""
