from glonet_regions.cli import main

main()
